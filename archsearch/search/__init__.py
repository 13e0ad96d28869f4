"""Optuna study over a grammar's terms: search space, objective, storage, workers, baselines, confirmation
and the leaderboard.

    run_search(grammar, task_name, …) -> optuna.Study      create or resume a study and run its trials
    run_worker(study_name, storage, results_dir, …)        join an existing study (``archsearch worker``)
    run_confirm(study_name, top, seeds, …)                 retrain the top trials and baselines with seeds
    open_storage(url_or_none, study_dir)                   journal file (default) or PostgreSQL
    SearchSpace, Candidate, space_from_grammar             the space and its canonical candidate keys
    StudySettings, load_settings                           a study's stored definition, typed
    leaderboard(study), summary(study), count_trials(study)

One module per job: settings, factories (sampler, pruner, task), liveness (owner records), recovery (dead
workers' trials, counts), heartbeat, worker (the loop), spawn (processes, progress), study (create,
resume), baselines, confirm, results. Nothing heavy is imported here: optuna and torch load when a search
runs.
"""

from archsearch.search.baselines import BASELINES, baseline_candidate
from archsearch.search.confirm import (
    confirmations,
    rival_confirmations,
    rival_verdict,
    run_confirm,
    start_confirmation,
    verdict,
)
from archsearch.search.errors import SearchError, StorageError, StudyError
from archsearch.search.factories import check_device
from archsearch.search.objective import Objective, save_trial_files, term_descriptions, trial_dir
from archsearch.search.recovery import count_trials, recover_stale_trials
from archsearch.search.results import Confirmed, LeaderboardRow, leaderboard, summary
from archsearch.search.settings import (
    OBJECTIVES,
    PRUNERS,
    SAMPLERS,
    Budget,
    StudySettings,
    default_study_name,
    load_settings,
)
from archsearch.search.space import Candidate, SearchSpace, parse_space_overrides, space_from_grammar
from archsearch.search.storage import check_journal, claim_lock, describe_storage, journal_path, open_storage
from archsearch.search.study import run_search
from archsearch.search.worker import run_worker

__all__ = [
    "BASELINES",
    "OBJECTIVES",
    "PRUNERS",
    "SAMPLERS",
    "Budget",
    "Candidate",
    "Confirmed",
    "LeaderboardRow",
    "Objective",
    "SearchError",
    "SearchSpace",
    "StorageError",
    "StudyError",
    "StudySettings",
    "baseline_candidate",
    "check_device",
    "check_journal",
    "claim_lock",
    "confirmations",
    "count_trials",
    "default_study_name",
    "describe_storage",
    "journal_path",
    "leaderboard",
    "load_settings",
    "open_storage",
    "parse_space_overrides",
    "recover_stale_trials",
    "rival_confirmations",
    "rival_verdict",
    "run_confirm",
    "run_search",
    "run_worker",
    "save_trial_files",
    "space_from_grammar",
    "start_confirmation",
    "summary",
    "term_descriptions",
    "trial_dir",
    "verdict",
]
