from neo.core.segment import Segment


class MozaikSegment(Segment):
    def __init__(self, segment, identifier, null=False):
        self.init = True
        Segment.__init__(self, name=segment.name, description=segment.description,
                         file_origin=segment.file_origin,
                         rec_datetime=segment.rec_datetime, index=segment.index)
        self.annotations = segment.annotations
        self.identifier, self.null, self.full = identifier, null, False


class PickledDataStoreNeoWrapper(MozaikSegment):
    def __init__(self, segment, identifier, datastore_path, null=False):
        MozaikSegment.__init__(self, segment, identifier, null)
        self.datastore_path = datastore_path
