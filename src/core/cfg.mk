# Config modules of libcore (model, YAML splice, transactions).
CORE_CFG_SRC +=
