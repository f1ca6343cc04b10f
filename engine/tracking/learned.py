"""placeholder"""
FEATURE_FLOOR = -3.0
def load():
    return None
