"""Campaign content: templates, MIME building, unsubscribe tokens, lint and checks.

The engine depends on ``compile_campaign`` / ``CompiledCampaign.render`` /
``RenderedMessage`` (see CONTRACTS.md); everything else is for the operator.
"""

from core.content.build import CompiledCampaign, RenderedMessage, compile_campaign
from core.content.errors import CompileError, ContentError, RenderError
from core.content.unsubscribe import unsubscribe_token

__all__ = [
    "CompileError",
    "CompiledCampaign",
    "ContentError",
    "RenderError",
    "RenderedMessage",
    "compile_campaign",
    "unsubscribe_token",
]
