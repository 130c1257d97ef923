# Shortcuts; the scripts install what they need (system packages included).
.PHONY: test demo
test:
	scripts/test.sh
demo:
	scripts/demo.sh
