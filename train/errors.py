"""Errors that the CLI turns into a plain message and exit code 2, never a traceback."""


class UserError(Exception):
    """A problem the user can fix: bad config, bad data, bad path. The message says where and how."""


class ConfigError(UserError):
    """Every problem found in one config, listed together."""

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        if len(problems) == 1:  # one problem, one line: "<file>: <where>: <what>"
            super().__init__(f"{source}: {problems[0]}")
            return
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the config:\n{lines}")


class DataError(UserError):
    """Every problem found in one data file, listed together (capped so a broken file stays readable)."""

    MAX_LISTED = 40

    def __init__(self, source: str, problems: list[str]):
        self.problems = problems
        if len(problems) == 1:  # one problem, one line: "<file>: line N: <what>"
            super().__init__(f"{source}: {problems[0]}")
            return
        shown = problems[: self.MAX_LISTED]
        lines = "\n".join(f"  - {p}" for p in shown)
        more = len(problems) - len(shown)
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{source}: {len(problems)} problem(s) in the data:\n{lines}{tail}")
