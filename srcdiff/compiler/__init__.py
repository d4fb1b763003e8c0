"""The compiler pipeline: parse -> normalize -> analyse -> trace -> differentiate ->
optimize -> emit -> cache. Each stage is one module."""
