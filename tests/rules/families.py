"""Every family's rule table, in one list: the coverage test and the backend tests run
them all."""

from . import (
    test_arithmetic,
    test_assembly,
    test_containers,
    test_contractions,
    test_creation,
    test_decompositions,
    test_elementwise,
    test_indexing,
    test_linalg,
    test_namespaces,
    test_numpy_math,
    test_objects,
    test_random,
    test_reductions,
    test_selection,
    test_sequences,
    test_shapes,
    test_tangents,
    test_tensor_methods,
    test_updates,
)

FAMILIES = [
    test_arithmetic,
    test_numpy_math,
    test_elementwise,
    test_reductions,
    test_sequences,
    test_shapes,
    test_assembly,
    test_indexing,
    test_selection,
    test_linalg,
    test_contractions,
    test_decompositions,
    test_containers,
    test_objects,
    test_creation,
    test_tensor_methods,
    test_updates,
    test_tangents,
    test_random,
    test_namespaces,
]
SPECS = [s for family in FAMILIES for s in family.SPECS]
