# Config modules of libcore (model, YAML splice, transactions).
CORE_CFG_SRC += src/core/config.c src/core/config_yaml.c src/core/cfgtx.c
# The annotated example config ships in the tarball (DESIGN 3).
dist_noinst_DATA += conf/config.example.yaml
