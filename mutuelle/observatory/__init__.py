"""The observatory: indicators over datasets, their values at every level of the referential
under statistical secrecy, the classes of their maps, comparisons and portraits.

- ``indicators``: define, check, list, read and delete indicator definitions; the sums of
  their numerators and denominators per territory code (DuckDB).
- ``compute``: values at every level (``compute_indicator``, ``indicator_values``).
- ``secrecy``: primary and secondary cell suppression, and the recoverability check.
- ``classification``: quantiles, Jenks, equal intervals, manual breaks; palettes; bivariate.
- ``compare``: percentile ranks, parent and whole-territory comparisons, portraits.
- ``maps``: what a map shows (values at a level, classes of a choropleth, tile values);
  ``crossing``: two indicators crossed; ``territories``: a territory and its portrait.
- ``scenarios``: saved map views.

Submodules are imported where used, so that importing one does not load them all.
"""
