"""A fake ``mozaik`` for tests: just enough of its classes, at their module paths, to
write pickles like mozaik's PickledDataStore does (not mozaik's code)."""
