"""The review pages' routes, one module per page family; the catch-all 404 is included last."""
