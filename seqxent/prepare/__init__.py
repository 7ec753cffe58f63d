"""Stage `seqxent prepare`: check, group and split a data set into the prepared table."""
