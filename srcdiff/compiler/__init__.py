"""The compiler: one module per stage, run in order by ``pipeline.py`` (parse ->
normalize -> lower Tensors -> sharing -> analyse, then the back ends: trace, differentiate
-> optimize, tangent; then to backend -> emit); ``cache.py`` compiles and keeps what they
generate."""
