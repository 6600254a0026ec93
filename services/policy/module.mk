# services/policy/: parapet-policy, the VM lifecycle service.
POLICY_SRCS := services/policy/state.c services/policy/vm.c
$(eval $(call program,parapet-policy,services/policy/main.c $(POLICY_SRCS)))
$(eval $(call unit_test,policy_state_test,services/policy/state.c))
