import numpy

from mozaik.tools.mozaik_parametrized import MozaikParametrized, SInteger, SNumber, SString


class AnalysisDataStructure(MozaikParametrized):
    identifier = SString()
    analysis_algorithm = SString()
    neuron = SInteger()
    sheet_name = SString()
    stimulus_id = SString()

    def __init__(self, tags=None, **params):
        MozaikParametrized.__init__(self, **params)
        self.tags = tags or []


class SingleValue(AnalysisDataStructure):
    value_name = SString()
    period = SNumber()

    def __init__(self, value, value_units, **params):
        AnalysisDataStructure.__init__(self, identifier="SingleValue", **params)
        self.value, self.value_units = value, value_units


class SingleValueList(AnalysisDataStructure):
    param2 = True
    value_name = SString()

    def __init__(self, values, values_unit, **params):
        AnalysisDataStructure.__init__(self, identifier="SingleValueList", **params)
        self.values, self.values_unit = values, values_unit


class PerNeuronValue(AnalysisDataStructure):
    value_name = SString()
    period = SNumber()

    def __init__(self, values, idds, value_units, **params):
        AnalysisDataStructure.__init__(self, identifier="PerNeuronValue", **params)
        self.value_units, self.values, self.ids = value_units, numpy.array(values), list(idds)


class PerNeuronPairValue(AnalysisDataStructure):
    value_name = SString()
    period = SNumber()

    def __init__(self, values, idds, value_units, **params):
        AnalysisDataStructure.__init__(self, identifier="PerNeuronPairValue", **params)
        self.value_units, self.values, self.ids = value_units, numpy.array(values), list(idds)


class AnalysisDataStructure1D(AnalysisDataStructure):
    x_axis_name = SString()
    y_axis_name = SString()

    def __init__(self, x_axis_units, y_axis_units, **params):
        AnalysisDataStructure.__init__(self, **params)
        self.x_axis_units, self.y_axis_units = x_axis_units, y_axis_units


class AnalogSignal(AnalysisDataStructure1D):
    def __init__(self, analog_signal, y_axis_units, **params):
        AnalysisDataStructure1D.__init__(self, analog_signal.sampling_period.units,
                                         y_axis_units, identifier="AnalogSignal", **params)
        self.analog_signal = analog_signal


class AnalogSignalList(AnalysisDataStructure1D):
    def __init__(self, asl, ids, y_axis_units, **params):
        AnalysisDataStructure1D.__init__(self, asl[0].sampling_period.units, y_axis_units,
                                         identifier="AnalogSignalList", **params)
        self.asl, self.ids = asl, list(ids)


class PerNeuronPairAnalogSignalList(AnalysisDataStructure1D):
    def __init__(self, asl, ids, y_axis_units, **params):
        # mozaik passes the parent's identifier here (a bug the importer corrects)
        AnalysisDataStructure1D.__init__(self, asl[0].sampling_period.units, y_axis_units,
                                         identifier="AnalogSignalList", **params)
        self.asl, self.ids = asl, list(ids)


class ConductanceSignalList(AnalysisDataStructure1D):
    def __init__(self, e_con, i_con, ids, **params):
        AnalysisDataStructure1D.__init__(self, e_con[0].sampling_period.units,
                                         e_con[0].units, x_axis_name="time",
                                         y_axis_name="conductance",
                                         identifier="ConductanceSignalList", **params)
        self.e_con, self.i_con, self.ids = e_con, i_con, list(ids)


class Connections(AnalysisDataStructure):
    proj_name = SString()
    source_name = SString()
    target_name = SString()

    def __init__(self, weights, delays, source_size, target_size, **params):
        AnalysisDataStructure.__init__(self, identifier="Connections", **params)
        self.weights, self.delays = numpy.array(weights), numpy.array(delays)
        self.source_size, self.target_size = source_size, target_size
