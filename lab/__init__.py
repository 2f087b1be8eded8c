"""cclab's lab: topologies as data, a pure planner, backends that build them."""

__version__ = "0.1.0"
