package redis_test

import (
	"github.com/gin-gonic/gin"
	"go.uber.org/zap/zapcore"
)

type (
	zapcoreEntry = zapcore.Entry
	ginRouter    = gin.IRouter
)
