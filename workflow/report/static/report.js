/* cnnlab report: the interactions of the offline HTML page (sortable and filterable tables,
   search, figure lightbox, theme switch). Plain JavaScript, no library, no request: the page
   reads the same without it, only these interactions are missing. */
(function () {
  "use strict";

  var root = document.documentElement;
  root.classList.add("js");

  function make(tag, attributes, text) {
    var element = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      element.setAttribute(name, attributes[name]);
    });
    if (text) element.textContent = text;
    return element;
  }

  /* ---- Theme: follows prefers-color-scheme until the reader picks one (kept per browser). */

  var THEMES = ["auto", "light", "dark"];
  var THEME_KEY = "cnnlab-theme";

  function storedTheme() {
    try {
      var theme = window.localStorage.getItem(THEME_KEY);
      return THEMES.indexOf(theme) >= 0 ? theme : "auto";
    } catch (error) { // storage refused (some browsers on file://): the choice lasts the visit
      return "auto";
    }
  }

  function showTheme(theme) {
    if (theme === "auto") root.removeAttribute("data-theme");
    else root.setAttribute("data-theme", theme);
  }

  function applyTheme(theme, button) {
    showTheme(theme);
    button.textContent = "Theme: " + theme;
    button.setAttribute("data-theme-choice", theme);
    try { window.localStorage.setItem(THEME_KEY, theme); } catch (error) { /* see storedTheme */ }
  }

  // At once, before the page is drawn: no flash of the other theme.
  showTheme(storedTheme());

  function setUpTheme(panel) {
    var button = make("button", {type: "button", "class": "theme-toggle",
                                 title: "Switch between the system's theme, light and dark"});
    button.addEventListener("click", function () {
      var next = THEMES[(THEMES.indexOf(button.getAttribute("data-theme-choice")) + 1) % THEMES.length];
      applyTheme(next, button);
    });
    applyTheme(storedTheme(), button);
    panel.appendChild(button);
  }

  /* ---- Tables: sort by any column; a filter box above long ones. */

  var FILTER_FROM_ROWS = 12;
  // An optional "p", a comparison, then the number: "p < 0.001", "p = 0.03", "~5", "98.95".
  var NUMBER = /^(?:p\s*)?([<>=~\u2248]?)\s*([+-]?\d+(?:\.\d+)?(?:e[+-]?\d+)?)/i;

  // A cell's sort key: numbers as numbers ("1,234", "98.95 ± 0.12%" by its mean, "−0.3",
  // "p < 0.001" just below 0.001), dashes and empty cells last, anything else as text.
  function sortKey(cell) {
    var text = (cell.getAttribute("data-sort") || cell.textContent).trim();
    if (text === "" || text === "\u2013" || text === "-") return {rank: 2, value: 0};
    var match = text.replace(/,/g, "").replace(/\u2212/g, "-").match(NUMBER);
    if (match) {
      var value = parseFloat(match[2]);
      var nudge = match[1] === "<" ? -1 : match[1] === ">" ? 1 : 0;
      return {rank: 0, value: value + nudge * Math.max(Math.abs(value), 1) * 1e-9};
    }
    return {rank: 1, value: text.toLowerCase()};
  }

  function compareKeys(a, b) {
    if (a.rank !== b.rank) return a.rank - b.rank;
    if (a.rank === 1) return a.value.localeCompare(b.value, undefined, {numeric: true});
    return a.value - b.value;
  }

  // The column each header cell heads, through rowspans and colspans.
  function headerColumns(thead) {
    var taken = [];
    var columns = [];
    Array.prototype.forEach.call(thead.rows, function (row, r) {
      var column = 0;
      Array.prototype.forEach.call(row.cells, function (cell) {
        while (taken[r] && taken[r][column]) column += 1;
        var span = cell.colSpan || 1;
        for (var dr = 0; dr < (cell.rowSpan || 1); dr += 1) {
          taken[r + dr] = taken[r + dr] || [];
          for (var dc = 0; dc < span; dc += 1) taken[r + dr][column + dc] = true;
        }
        if (span === 1) columns.push({cell: cell, column: column});
        column += span;
      });
    });
    return columns;
  }

  function sortTable(table, column, header, headers) {
    var body = table.tBodies[0];
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(body.rows).map(function (row, index) {
      var cell = row.cells[column];
      return {row: row, index: index, key: cell ? sortKey(cell) : {rank: 2, value: 0}};
    });
    rows.sort(function (a, b) {
      var order = compareKeys(a.key, b.key);
      if (a.key.rank === 2 || b.key.rank === 2) return order || a.index - b.index;
      return (ascending ? order : -order) || a.index - b.index;
    });
    rows.forEach(function (entry) { body.appendChild(entry.row); });
    headers.forEach(function (other) { other.cell.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  function setUpTable(table) {
    if (!table.tHead || !table.tBodies.length) return;
    var headers = headerColumns(table.tHead);
    headers.forEach(function (header) {
      var button = make("button", {type: "button", "class": "sort",
                                   title: "Sort by this column (again: reverse)"});
      while (header.cell.firstChild) button.appendChild(header.cell.firstChild);
      header.cell.appendChild(button);
      button.addEventListener("click", function () {
        sortTable(table, header.column, header.cell, headers);
      });
    });
    var count = table.tBodies[0].rows.length;
    if (count >= FILTER_FROM_ROWS) {
      var box = make("div", {"class": "table-filter"});
      var input = make("input", {type: "search", placeholder: "Filter these " + count + " rows",
                                 "aria-label": "Filter the rows of the table below"});
      var shown = make("span", {"class": "filter-count", "aria-live": "polite"});
      input.addEventListener("input", function () {
        var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
        var visible = 0;
        Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
          var text = row.textContent.toLowerCase();
          var match = words.every(function (word) { return text.indexOf(word) >= 0; });
          row.hidden = !match;
          if (match) visible += 1;
        });
        shown.textContent = words.length ? visible + " of " + count + " rows" : "";
      });
      box.appendChild(input);
      box.appendChild(shown);
      table.parentNode.insertBefore(box, table);
    }
  }

  /* ---- Search: models, sections, layers and figure captions; a result jumps to its place. */

  var MAX_RESULTS = 12;
  var idCount = 0;

  function idOf(element) {
    if (!element.id) {
      idCount += 1;
      element.id = "found-" + idCount;
    }
    return element.id;
  }

  // "digitcnn on mnist" for anything inside a model's section.
  function modelOf(element) {
    var section = element.closest("section.model");
    if (!section) return "";
    return section.getAttribute("data-model") + " on " + section.getAttribute("data-dataset");
  }

  function searchIndex() {
    var entries = [];
    document.querySelectorAll("main h1, main h2, main h3").forEach(function (heading) {
      var kind = heading.closest("section.model") && heading.tagName === "H2" ? "model" : "section";
      var where = heading.tagName === "H3" ? modelOf(heading) : "";
      entries.push({kind: kind, label: heading.textContent.trim(), where: where, target: heading});
    });
    document.querySelectorAll("main table.layers tbody tr").forEach(function (row) {
      var name = row.cells[1] ? row.cells[1].textContent.trim() : "";
      var type = row.cells[2] ? row.cells[2].textContent.trim() : "";
      entries.push({kind: "layer", label: name + " (" + type + ")", where: modelOf(row), target: row});
    });
    document.querySelectorAll("main figure figcaption").forEach(function (caption) {
      entries.push({kind: "figure", label: caption.textContent.trim(), where: modelOf(caption),
                    target: caption.parentNode});
    });
    entries.forEach(function (entry) {
      entry.text = (entry.kind + " " + entry.label + " " + entry.where).toLowerCase();
    });
    return entries;
  }

  function jumpTo(target) {
    if (target.hidden) { // a row a table filter hides: clear that filter first
      var filter = target.closest("table").previousElementSibling;
      var input = filter && filter.querySelector("input");
      if (input) {
        input.value = "";
        input.dispatchEvent(new Event("input"));
      }
    }
    var id = idOf(target);
    if (window.history && window.history.replaceState) window.history.replaceState(null, "", "#" + id);
    target.scrollIntoView({block: "center"});
    target.classList.add("search-hit");
    window.setTimeout(function () { target.classList.remove("search-hit"); }, 2500);
  }

  function setUpSearch(panel) {
    var entries = null;
    var box = make("div", {"class": "search", role: "search"});
    var input = make("input", {type: "search", id: "report-search",
                               placeholder: "Search the report",
                               "aria-label": "Search the report", autocomplete: "off"});
    var list = make("ol", {"class": "search-results", "aria-label": "Search results"});
    box.appendChild(input);
    box.appendChild(list);
    panel.appendChild(box);

    function show() {
      entries = entries || searchIndex();
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      list.textContent = "";
      if (!words.length) return;
      var found = entries.filter(function (entry) {
        return words.every(function (word) { return entry.text.indexOf(word) >= 0; });
      });
      found.slice(0, MAX_RESULTS).forEach(function (entry) {
        var item = make("li");
        var link = make("a", {href: "#" + idOf(entry.target), "class": "result-" + entry.kind});
        link.appendChild(make("span", {"class": "result-kind"}, entry.kind));
        link.appendChild(document.createTextNode(" " + entry.label.slice(0, 90)));
        if (entry.where) link.appendChild(make("span", {"class": "result-where"}, " in " + entry.where));
        link.addEventListener("click", function (event) {
          event.preventDefault();
          jumpTo(entry.target);
        });
        item.appendChild(link);
        list.appendChild(item);
      });
      if (!found.length) list.appendChild(make("li", {"class": "no-result"}, "nothing found"));
      else if (found.length > MAX_RESULTS) {
        list.appendChild(make("li", {"class": "more-results"},
                              (found.length - MAX_RESULTS) + " more: type more words"));
      }
    }

    input.addEventListener("input", show);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        var first = list.querySelector("a");
        if (first) first.click();
      } else if (event.key === "Escape") {
        input.value = "";
        show();
      }
    });
  }

  /* ---- Lightbox: a figure opens enlarged; Escape, the close button or a click closes it. */

  function setUpLightbox() {
    var overlay = make("div", {"class": "lightbox", role: "dialog", "aria-modal": "true",
                               "aria-label": "Enlarged figure", hidden: ""});
    var close = make("button", {type: "button", "class": "lightbox-close",
                                "aria-label": "Close the enlarged figure"}, "\u00d7");
    var image = make("img", {alt: ""});
    var caption = make("p", {"class": "lightbox-caption"});
    overlay.appendChild(close);
    overlay.appendChild(image);
    overlay.appendChild(caption);
    document.body.appendChild(overlay);
    var opener = null;

    function open(source) {
      opener = source;
      image.src = source.src;
      image.alt = source.alt;
      var figcaption = source.closest("figure").querySelector("figcaption");
      caption.textContent = figcaption ? figcaption.textContent : "";
      overlay.hidden = false;
      overlay.classList.remove("actual-size");
      root.classList.add("lightbox-open");
      close.focus();
    }

    function shut() {
      if (overlay.hidden) return;
      overlay.hidden = true;
      root.classList.remove("lightbox-open");
      if (opener) opener.focus();
    }

    close.addEventListener("click", shut);
    overlay.addEventListener("click", function (event) {
      if (event.target === image) overlay.classList.toggle("actual-size");
      else if (event.target !== close) shut();
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") shut();
      else if (event.key === "Tab" && !overlay.hidden) { // focus stays in the dialog
        event.preventDefault();
        close.focus();
      }
    });
    document.querySelectorAll("main figure img").forEach(function (figureImage) {
      figureImage.setAttribute("tabindex", "0");
      figureImage.setAttribute("role", "button");
      figureImage.setAttribute("aria-haspopup", "dialog");
      figureImage.title = "Enlarge (Escape closes)";
      figureImage.addEventListener("click", function () { open(figureImage); });
      figureImage.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          open(figureImage);
        }
      });
    });
  }

  // For a table added to the page later (and for the tests, which add one).
  window.cnnlabReport = {prepareTable: setUpTable};

  function start() {
    var panel = document.querySelector(".sidebar .tools");
    if (panel) {
      setUpTheme(panel);
      setUpSearch(panel);
    }
    document.querySelectorAll("main table").forEach(setUpTable);
    setUpLightbox();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}());
