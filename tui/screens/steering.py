"""Steering a send from the console: launching, exact rates, rate steps, quitting.

The keys live on the screens (dashboard, campaigns, accounts); what they
share is here. Every call to the engine goes through ``app.steer`` so it
runs off the UI thread and shows its pending effect at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from core.content.check import CheckReport, run_check
from core.store import Store
from tui.screens.dialogs import ConfirmDialog

if TYPE_CHECKING:
    from tui.app import PostroomApp

# `+` and `-` walk this ladder (messages per second): each press is a step an
# operator can reason about, whatever the starting rate.
RATE_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


def step_rate(current: float | None, up: bool) -> float:
    """The next rate on the ladder above (``up``) or below ``current``."""
    current = current or 0.0
    if up:
        return next((s for s in RATE_STEPS if s > current * 1.001), RATE_STEPS[-1])
    lower = [s for s in RATE_STEPS if s < current / 1.001]
    return float(lower[-1]) if lower else RATE_STEPS[0]


def rate_text(rate: float | None) -> str:
    return "no cap" if not rate else f"{rate:g}/s"


class RateDialog(ModalScreen[float | None]):
    """`=`: type an exact rate. Empty or 0 lifts a campaign's cap."""

    DEFAULT_CSS = """
    RateDialog { align: center middle; }
    RateDialog > Vertical { width: 60; max-width: 100%; height: auto;
                            border: thick $accent; background: $surface; padding: 1 2; }
    RateDialog #error { color: $error; height: auto; }
    """
    BINDINGS: ClassVar = [Binding("escape", "dismiss(None)", "Cancel", show=False)]

    def __init__(self, what: str, current: float | None, allow_none: bool) -> None:
        super().__init__()
        self.what = what
        self.current = current
        self.allow_none = allow_none

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Rate for {self.what} (now {rate_text(self.current)}), messages/second:")
            hint = "0 or empty: no cap" if self.allow_none else "above 0"
            yield Input(placeholder=f"now {rate_text(self.current)}; {hint}", id="rate")
            yield Static("", id="error")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip().removesuffix("/s")
        try:
            rate = float(text) if text else 0.0
        except ValueError:
            rate = -1.0
        if rate < 0 or rate > 1e6 or (rate == 0 and not self.allow_none):
            need = "a number ≥ 0" if self.allow_none else "a number above 0"
            self.query_one("#error", Static).update(f"{event.value!r}: type {need}")
            return
        self.dismiss(rate)


class QuitDialog(ModalScreen[str | None]):
    """Quitting a console whose own engine is sending: hand over, or pause.

    Focus starts on keeping the send going: the campaigns were launched on
    purpose, and a stray Enter must not stop them. Esc stays in the console.
    """

    DEFAULT_CSS = """
    QuitDialog { align: center middle; }
    QuitDialog > Vertical { width: 72; max-width: 100%; height: auto;
                            border: thick $warning; background: $surface; padding: 1 2; }
    QuitDialog Horizontal { height: auto; margin-top: 1; }
    QuitDialog Button { margin-right: 1; }
    """
    BINDINGS: ClassVar = [
        Binding("escape", "dismiss(None)", "Stay", show=False),
        Binding("left,right,tab", "app.focus_next", show=False),
    ]

    def __init__(self, campaigns: str, *, can_hand_over: bool = True) -> None:
        super().__init__()
        self.campaigns = campaigns
        self.can_hand_over = can_hand_over

    def compose(self) -> ComposeResult:
        with Vertical():
            if self.can_hand_over:
                question = (
                    "Keep sending in the background (a detached `postroom run` takes over;"
                    " consoles opened later attach to it), or pause the campaigns and quit?"
                )
            else:  # the demo: its capture server and database end with the console
                question = "The demo ends with this console. Pause the campaigns and quit?"
            yield Static(f"This console's engine is sending {self.campaigns}.\n\n{question}")
            with Horizontal():
                if self.can_hand_over:
                    yield Button("Keep sending", id="background", variant="primary")
                yield Button("Pause and quit", id="pause", variant="warning")
                yield Button("Stay", id="stay")

    def on_mount(self) -> None:
        self.query_one("#background" if self.can_hand_over else "#stay", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None if event.button.id == "stay" else event.button.id)


# -- launching -------------------------------------------------------------------------


def start_launch(app: PostroomApp, campaign_id: int) -> None:
    """`l`: the pre-launch check in a worker, then a confirmation (focus on No)."""
    campaign = app.store.campaigns.get(campaign_id)
    if campaign is None:
        return
    if campaign["state"] not in ("draft", "scheduled"):
        app.notify(f"{campaign['name']} is {campaign['state']}: only a draft can be launched")
        return
    app.notify(f"Checking {campaign['name']} before launch…")
    app.run_worker(
        lambda: _check(app, campaign_id, campaign["name"]),
        thread=True,
        group="launch-check",
        exclusive=True,
    )


def _check(app: PostroomApp, campaign_id: int, name: str) -> None:
    store = Store(app.db_path)  # the worker thread's own connection
    try:
        report = run_check(store, campaign_id, app.config, **app.check_options)
    except Exception as exc:  # one line for the operator; the console stays up
        app.call_from_thread(app.notify, f"Check of {name} failed: {exc}", severity="error")
        return
    finally:
        store.close()
    app.call_from_thread(_confirm_launch, app, campaign_id, name, report)


def _confirm_launch(app: PostroomApp, campaign_id: int, name: str, report: CheckReport) -> None:
    lines = report.summary_lines()
    if report.blocking:
        app.notify(
            f"{name} cannot launch: " + "\n".join(lines) + "\n(c on :campaigns shows the check)",
            severity="error",
            timeout=15,
        )
        return

    def answered(yes: bool | None) -> None:
        if yes:
            app.steer(
                "launch",
                campaign_id,
                expect=("campaigns", str(campaign_id), {"state": "running"}),
                done=lambda counts: _launched(app, name, counts),
            )

    question = f"Launch {name} now? Mail starts going out at once.\n\n" + "\n".join(lines)
    app.push_screen(ConfirmDialog(question, yes="Launch"), answered)


def _launched(app: PostroomApp, name: str, counts: Any) -> None:
    queued = (counts or {}).get("queued", 0)
    app.notify(f"Launched {name}: {queued:,} queued")
    if hasattr(app.screen, "reload"):
        app.screen.reload()
