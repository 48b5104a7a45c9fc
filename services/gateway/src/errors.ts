import createError from '@fastify/error'
import { createAuthErrors, createLimitErrors, createRequestErrors } from '@training-live/service-kit'

/** Every error the gateway answers with; docs/protocol.md lists each code. */
export const GatewayErrors = {
  ...createAuthErrors('GATEWAY'),
  ...createLimitErrors('GATEWAY'),
  ...createRequestErrors('GATEWAY'),
  UpstreamUnavailable: createError('GATEWAY_UPSTREAM_UNAVAILABLE', 'no training service answered; retry shortly', 503)
}
