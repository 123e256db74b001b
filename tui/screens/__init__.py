"""The views `:` can jump to, by name."""

from __future__ import annotations

from textual.screen import Screen

from tui.screens.accounts import AccountsScreen
from tui.screens.campaigns import CampaignsScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.domains import DomainsScreen
from tui.screens.lists import ListsScreen
from tui.screens.logs import LogsScreen

VIEWS: dict[str, type[Screen]] = {
    "dashboard": DashboardScreen,
    "accounts": AccountsScreen,
    "lists": ListsScreen,
    "campaigns": CampaignsScreen,
    "logs": LogsScreen,
    "domains": DomainsScreen,
}
