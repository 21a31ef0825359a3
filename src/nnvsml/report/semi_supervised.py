"""The report's section on what the unlabelled rows bought (``--unlabeled use``)."""

from __future__ import annotations

from nnvsml.report.blocks import Cell, Note, Section, Table, score, section, signed
from nnvsml.report.load import Run


@section("unlabelled", "What the unlabelled rows bought",
         "Claim tested: networks need far more labelled data, and unlabelled rows can stand in "
         "for labels. Each semi-supervised model beside its twin, the same model trained on "
         "the labelled rows alone, under the same folds and test rows; a positive gain is the "
         "unlabelled rows' doing.")
def unlabelled(out: Section, run: Run) -> None:
    block = run.results.get("semi_supervised") or {}
    pairs = block.get("pairs") or []
    if not pairs:
        out.fail("not available", "no semi-supervised model finished")
        return
    m = run.metric
    out.blocks.append(Note(f"{block.get('unlabelled_rows') or 0:,} unlabelled rows; "
                           "they are never test rows."))
    table = Table(["model", "family", "twin", f"CV {m}", f"twin CV {m}", "CV gain",
                   f"test {m}", f"twin test {m}", "test gain"], [])
    for p in pairs:
        gain = p.get("valid_gain")
        table.rows.append([Cell(str(p["model"]), "label"), Cell(str(p.get("family") or "")),
                           Cell(str(p.get("twin") or "")), Cell(score(p.get("valid"))),
                           Cell(score(p.get("twin_valid"))),
                           Cell(signed(gain), "" if gain is None else
                                ("better" if gain > 0 else "muted")),
                           Cell(score(p.get("test"))), Cell(score(p.get("twin_test"))),
                           Cell(signed(p.get("test_gain")))])
    out.blocks.append(table)
