"""Fetch the project's git assets that are missing, and never touch files already present.

    python scripts/fetch_assets.py PROJECT_DIR [--vars.NAME VALUE ...]

`spacy project assets` is not used directly because it (a) does not see the `--vars`
given to `spacy project run`, (b) deletes an existing destination whose checksum does not
match before cloning, which would destroy a user's own corpus placed at the same path, and
(c) exits 0 when an asset is still missing. Here a present file is kept, a missing one is
fetched with git, and one that cannot be fetched stops the workflow with what to do.
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def fetch(repo: str, branch: str, path: str, dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clone = [
            "git", "clone", "--quiet", "--depth", "1", "--branch", branch, repo, tmp,
        ]
        result = subprocess.run(clone, capture_output=True, text=True)
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or ["git failed"])[-1]
            sys.exit(
                f"Could not fetch {dest} from {repo} ({reason}). "
                f"Without network access, place the file there yourself or point the vars "
                f"(e.g. --vars.corpus_dir) at a folder that has it."
            )
        source = Path(tmp) / path
        if not source.exists():
            sys.exit(f"{repo} has no {path} on branch {branch}: check the asset in project.yml.")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, dest)


def main(argv) -> None:
    from weasel.util import load_project_config, parse_config_overrides

    project_dir = Path(argv[0]) if argv else Path.cwd()
    config = load_project_config(project_dir, overrides=parse_config_overrides(argv[1:]))
    for asset in config.get("assets", []):
        dest = project_dir / asset["dest"]
        if dest.exists():
            print(f"Present, kept: {asset['dest']}")
            continue
        git = asset.get("git")
        if not git:
            sys.exit(f"Missing asset {asset['dest']}, which has no source to fetch it from: put it there.")
        fetch(git["repo"], git.get("branch") or "master", git["path"], dest)
        print(f"Fetched {asset['dest']} from {git['repo']}")


if __name__ == "__main__":
    main(sys.argv[1:])
