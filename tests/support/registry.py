"""A registry stand-in for unit tests of alias lookups: churn@champion is 7, churn@dev is 6, nothing else."""

from __future__ import annotations


class AliasRegistry:
    aliases = {("churn", "champion"): "7", ("churn", "dev"): "6"}

    def __init__(self, *args, **kwargs):
        pass

    def alias_version(self, name, alias):
        return self.aliases.get((name, alias))
