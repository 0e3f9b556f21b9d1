package logging_test

import (
	"fmt"

	"github.com/redifx/redifx/modules/config"
	"github.com/redifx/redifx/modules/logging"
)

func ExampleScrub() {
	fmt.Println(logging.Scrub("dial redis://app:hunter2@db:6379 failed; token abc123", config.Secrets{"abc123"}))
	// Output: dial redis://app:***@db:6379 failed; token ***
}
