"""Trials of dead workers: find them (owner record or heartbeat), fail them, queue their parameters again;
and count a study's trials the way its target counts them."""

from __future__ import annotations

import time
import warnings
from typing import Any

from archsearch.search.liveness import owner_alive

OWNER_ATTR = "archsearch:worker"
MAX_RETRY = 3  # a trial whose workers keep dying runs at most 1 + MAX_RETRY times


def is_stale(trial: Any, now: float, storage: Any = None) -> bool:
    """Whether a RUNNING trial's worker is dead. Call under the claim lock: a worker claims a trial and writes
    its owner record inside that lock, so a RUNNING trial without an owner seen under it belongs to a worker
    killed between the two appends — stale at once. An owner on another host is judged by its heartbeats
    (PostgreSQL): Optuna fails the trials whose heartbeat stopped; a trial that never beat at all is stale once
    the grace period has passed since it started."""
    owner = trial.system_attrs.get(OWNER_ATTR)
    if not isinstance(owner, dict):
        return True
    alive = owner_alive(owner)
    if alive is not None:
        return not alive
    grace = getattr(storage, "grace_period", None) or 2 * (getattr(storage, "heartbeat_interval", None) or 0)
    if not grace or trial.datetime_start is None or now - trial.datetime_start.timestamp() <= grace:
        return False
    from archsearch.search.storage import has_heartbeat

    return not has_heartbeat(storage, trial._trial_id)


def recover_stale_trials(study: Any, storage: Any, max_retry: int | None = MAX_RETRY) -> list[int]:
    """Fail the RUNNING trials whose worker is dead and queue their parameters again; return their numbers.

    Call under the claim lock. PostgreSQL: also Optuna's heartbeat check (``fail_stale_trials``, which re-queues
    through ``RetryHeartbeatStaleTrialCallback``). A re-queued trial keeps its user attributes (a baseline
    stays a baseline).
    """
    import optuna
    from optuna.trial import TrialState

    failed: list[int] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optuna.storages.fail_stale_trials(study)  # PostgreSQL heartbeats; a no-op for the journal
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not is_stale(trial, now, storage):
            continue
        owner = trial.system_attrs.get(OWNER_ATTR) or {}
        try:
            storage.set_trial_user_attr(trial._trial_id, "stale", f"worker pid {owner.get('pid')} on "
                                        f"{owner.get('host')} died while running it")
            if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
        failed.append(trial.number)
        history = [*trial.system_attrs.get("retry_history", []), trial.number]
        if max_retry is not None and len(history) > max_retry:
            continue
        queued = {k: v for k, v in trial.user_attrs.items() if k in QUEUED_ATTRS}
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.WAITING,
                params=trial.params,
                distributions=trial.distributions,
                user_attrs=queued,
                system_attrs={"failed_trial": trial.system_attrs.get("failed_trial", trial.number),
                              "retry_history": history},
            )
        )
    return failed


#: user attributes a queued trial is created with (and a re-queued one keeps): what to run, not results
QUEUED_ATTRS = ("baseline", "baseline_candidate", "confirm", "grid")


def count_trials(study: Any) -> dict[str, int]:
    """Trials per state name (COMPLETE, PRUNED, FAIL, RUNNING, WAITING), ``duplicates`` (finished trials that
    repeated a trained configuration and reused its result) and ``finished``: the distinct configurations
    trained to the end or pruned — what a study's trial target counts."""
    out = {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0, "RUNNING": 0, "WAITING": 0, "duplicates": 0}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
        if t.state.name in ("COMPLETE", "PRUNED") and t.user_attrs.get("duplicate_of") is not None:
            out["duplicates"] += 1
    out["finished"] = out["COMPLETE"] + out["PRUNED"] - out["duplicates"]
    return out


def steps_spent(study: Any) -> int:
    """Training steps summed over the study's finished trials (pruned ones count the steps they trained;
    duplicates trained none)."""
    return sum(int(t.user_attrs.get("steps", 0)) for t in study.get_trials(deepcopy=False)
               if t.state.name in ("COMPLETE", "PRUNED"))
