"""Federation: member-city portals under a territory (and, later, harvesting and consolidation)."""
