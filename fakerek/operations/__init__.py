"""The Custom Labels operations: one plain function `(ctx, params) -> dict` per operation, in
the module named for its resource (`projects`, `datasets`, `versions`, `detect`, `copy`,
`policies`, `tags`); `registry.OPERATIONS` maps wire names to them and to how each settles, and
`dispatch.invoke` is the one way in."""
