"""Domain outcomes as kopf's errors, in one place: a spec that cannot run stops retries (PermanentError, with
its condition already written), a store that is down or a finalizer still waiting retries soon
(TemporaryError), and every handler run counts as ok or error."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import kopf

from flashsale_operator.lifecycle import TEMPORARY, SpecInvalid, StillDraining
from flashsale_operator.metrics import RECONCILES

RETRY_SECONDS = 2.0


@contextlib.asynccontextmanager
async def kopf_errors() -> AsyncIterator[None]:
    try:
        yield
    except SpecInvalid as error:
        RECONCILES.labels("error").inc()
        raise kopf.PermanentError(str(error)) from error
    except StillDraining as error:
        RECONCILES.labels("ok").inc()  # waiting is the plan, not a failure
        raise kopf.TemporaryError(str(error), delay=error.delay) from error
    except TEMPORARY as error:
        RECONCILES.labels("error").inc()
        raise kopf.TemporaryError(f"a store is unreachable: {error}", delay=RETRY_SECONDS) from error
    except Exception:
        RECONCILES.labels("error").inc()
        raise
    RECONCILES.labels("ok").inc()
