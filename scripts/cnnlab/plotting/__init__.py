"""Figure builders, one module per stage: :mod:`.evaluation`, :mod:`.inspection`,
:mod:`.comparison`; :mod:`.base` holds what they share (style context, saving, labels)."""
