"""Pure checks: (observations, config, now) -> list[Finding]. No I/O."""
