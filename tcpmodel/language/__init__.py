"""The spec language: TOML spec files with line numbers (``specfile``), the expression language
(``expressions``), the validated ``Spec`` (``spec``), and its rules compiled to Python (``codegen``)."""
