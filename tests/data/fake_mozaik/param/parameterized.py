class _InstancePrivate:
    __slots__ = ["initialized", "values", "params"]

    def __init__(self, values=None):
        self.initialized = True
        self.values = values or {}
        self.params = {}

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state):
        for k, v in state.items():
            setattr(self, k, v)
