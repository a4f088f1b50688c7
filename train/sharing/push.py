"""`framing push RUN_DIR --repo-id ORG/NAME [--private]`: upload a finished run directory to the Hugging Face Hub.

Fails fast, with a clear message and no traceback, when there is no token or the Hub cannot be reached.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from train.errors import UserError
from train.modeling.models import check_local_model_dir

REACH_TIMEOUT_S = 3.0
# Local bookkeeping that is not part of a shareable model repository.
IGNORED = ["logs/*", "*.partial", ".*"]


def _hub_reachable(endpoint: str) -> bool:
    parsed = urlparse(endpoint)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=REACH_TIMEOUT_S):
            return True
    except OSError:
        return False


def push_run(run_dir: str, repo_id: str, private: bool = False) -> str:
    from huggingface_hub import HfApi, constants, get_token

    path = Path(run_dir)
    check_local_model_dir(path)
    if not (path / "README.md").is_file():
        raise UserError(f"{path}: no README.md model card; run `framing card {path}` first")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise UserError(f"--repo-id {repo_id!r}: expected ORG/NAME, e.g. my-lab/frame-minilm")
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        raise UserError("HF_HUB_OFFLINE is set: pushing needs the network; unset it and try again")
    token = get_token()
    if not token:
        raise UserError("no Hugging Face token: run `hf auth login` or set HF_TOKEN, then push again")
    if not _hub_reachable(constants.ENDPOINT):
        raise UserError(f"cannot reach {constants.ENDPOINT} within {REACH_TIMEOUT_S:.0f} s: check the network, then push again")
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        commit = api.upload_folder(repo_id=repo_id, folder_path=str(path), ignore_patterns=IGNORED,
                                   commit_message=f"Upload {path.name} with framing push")
    except Exception as exc:  # the hub client raises many types; all are the user's to act on
        raise UserError(f"push to {repo_id} failed: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
    return getattr(commit, "commit_url", f"{constants.ENDPOINT}/{repo_id}")
