"""The pieces a report section is made of, and the number formats they share.

A section is a title, a one-sentence caption (the claim it tests) and an ordered list of
blocks; the template renders each block by its ``kind``. Everything here is plain text: the
template escapes it.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Text:
    text: str
    kind: str = "text"


@dataclass
class Note:
    text: str
    kind: str = "note"


@dataclass
class Bullets:
    items: list[str]
    title: str | None = None
    kind: str = "bullets"


@dataclass
class Plot:
    src: str  # a data: URI
    alt: str
    caption: str | None = None
    kind: str = "plot"


@dataclass
class Cell:
    text: str
    cls: str = ""


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Cell]]
    title: str | None = None
    compact: bool = False
    kind: str = "table"


@dataclass
class Pre:
    text: str
    title: str | None = None
    kind: str = "pre"


@dataclass
class Tiles:
    """Small tables or text blocks side by side, wrapping to the next line as needed."""
    items: list
    kind: str = "tiles"


@dataclass
class Section:
    id: str
    title: str
    caption: str
    blocks: list = field(default_factory=list)
    problem: dict | None = None  # {"status", "reason"} when the section has nothing to show

    def plot(self, src: str | None, alt: str, caption: str | None = None) -> None:
        if src:
            self.blocks.append(Plot(src, alt, caption))

    def fail(self, status: str, reason: str | None) -> Section:
        self.problem = {"status": status, "reason": reason or "no reason recorded"}
        return self


def section(id: str, title: str, caption: str, analysis: str | None = None):
    """Make ``build(section, run)`` a section builder: it fills a fresh :class:`Section`.

    With ``analysis``, the builder is ``build(section, run, block)`` and runs only when that
    evidence block is there and finished; otherwise the section says why it is empty.
    A builder that meets data of an unexpected shape leaves a note in its section instead of
    sinking the whole report: the rest of the page is still worth reading.
    """

    def decorate(build: Callable) -> Callable[..., Section]:
        @functools.wraps(build)
        def wrapper(run) -> Section:
            out = Section(id, title, caption)
            try:
                if analysis is None:
                    build(out, run)
                else:
                    block, problem = run.analysis(analysis)
                    if problem:
                        out.fail(**problem)
                    else:
                        build(out, run, block)
            except Exception as exc:  # noqa: BLE001 - any malformed block, shown in the page
                log.warning("report section %s could not be drawn", id, exc_info=True)
                out.blocks.clear()
                out.fail("not drawn", f"the report could not draw this section from the "
                                      f"results ({type(exc).__name__}: {exc})")
            return out

        wrapper.section_id = id  # how a task's spec names the section (its report_sections)
        return wrapper

    return decorate


def missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def score(value) -> str:
    """A metric value: four decimals, or fewer for large errors such as an RMSE in dollars."""
    if missing(value):
        return "—"
    value = float(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.4f}"


def signed(value) -> str:
    return "—" if missing(value) else f"{float(value):+.4f}"


def num(value, unit: str = "") -> str:
    """A cost: three significant digits, thousands separated."""
    if missing(value):
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,} {unit}".rstrip()
    value = float(value)
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif value == 0:
        text = "0"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def share(value) -> str:
    return "—" if missing(value) else f"{100 * float(value):.0f}%"


def text(value) -> str:
    """Any JSON value as display text (numbers formatted, lists joined)."""
    if missing(value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return num(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(text(v) for v in value)
    return str(value)
