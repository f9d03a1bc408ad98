package etcd

// helperEnv makes the test binary a plugin process of its own (see runHelper).
const helperEnv = "DEMOHOST_ETCD_TEST_HELPER"

func runHelper() {}
