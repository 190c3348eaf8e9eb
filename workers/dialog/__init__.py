"""The dialog worker: wake phrase, turns, spoken replies, car commands (see ``manager``)."""
