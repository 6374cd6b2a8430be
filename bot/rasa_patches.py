"""A measured fix for Rasa 3.6.21's check of action-server responses, applied when the gateway channel loads.

Rasa validates every action-server response with `jsonschema.validate`, which
checks the schema itself against the metaschema on every call: 19 ms of CPU per
call with jsonschema 4.17, 2.5 calls per turn, half of Rasa's CPU per turn
(issue 9). A validator built once from the same schema checks the same thing in
~0.5 ms. The patch keeps Rasa's behaviour (the same best-matching error, with
Rasa's own hint appended) and applies only to the Rasa version it was written
for; on any other version it logs and leaves Rasa alone.
"""

from __future__ import annotations

import functools
import logging
import os
from typing import Any

import rasa
from jsonschema import Draft4Validator, ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

logger = logging.getLogger(__name__)

PATCHED_RASA_VERSION = "3.6.21"


@functools.lru_cache(maxsize=1)
def response_validator() -> Draft4Validator:
    """The validator of Rasa's action-response schema, checked against its metaschema once."""
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    validator: Draft4Validator = cls(schema)
    return validator


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's RemoteAction._validate_action_result with the validator built once."""
    error = best_match(response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, "
        "make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def apply() -> bool:
    """Install the patch on the Rasa version it was written for; True when installed.

    CC_RASA_PATCHES=off leaves Rasa as shipped (the benchmarks' "before" configuration).
    """
    if os.environ.get("CC_RASA_PATCHES", "on") == "off":
        return False
    if rasa.__version__ != PATCHED_RASA_VERSION:
        logger.warning(
            "Rasa %s is not %s: the cached action-response validator is not installed",
            rasa.__version__,
            PATCHED_RASA_VERSION,
        )
        return False
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    return True


__all__ = ["ValidationError", "apply", "response_validator"]
