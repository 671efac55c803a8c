"""Package data: the NB201 v1_1 table and the official splits (see PROVENANCE.md)."""
