"""The people of a grid: 两长一员, 楼长, 街巷长, 党员 (双报到) and 志愿者; their personal data; the 网格公示牌."""
