"""Members of the commons: publishing with review, access levels, accounts and organisations administered with rights and audit."""
