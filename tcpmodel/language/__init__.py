"""The spec language: TOML spec files with line numbers and bounded reading (``specfile``), the
expression language (``expressions``), the patterns names must match (``names``), the validated
declarations (``declarations``) and roles (``roles``), the validated ``Spec`` (``spec``), and its
rules compiled to verified Python (``codegen``)."""
