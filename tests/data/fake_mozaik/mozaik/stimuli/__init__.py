from mozaik.tools.mozaik_parametrized import (
    MozaikParametrized,
    SInteger,
    SNumber,
    SParameterSet,
    SString,
)


class BaseStimulus(MozaikParametrized):
    frame_duration = SNumber()
    duration = SNumber()
    trial = SInteger()
    direct_stimulation_name = SString()
    direct_stimulation_parameters = SParameterSet()


class EndOfSimulationBlank(BaseStimulus):
    pass
