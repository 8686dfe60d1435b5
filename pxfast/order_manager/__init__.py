"""Order management: OrderManager, templates and the tick-size helpers in ``utils``."""
