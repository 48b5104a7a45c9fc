import createError from '@fastify/error'
import { createAuthErrors, createLimitErrors, createRequestErrors } from '@training-live/service-kit'

/** Every error the training service answers with; docs/protocol.md lists each code. */
export const TrainingErrors = {
  ...createAuthErrors('TRAINING'),
  ...createLimitErrors('TRAINING'),
  ...createRequestErrors('TRAINING'),
  Unavailable: createError('TRAINING_UNAVAILABLE', 'Redis or the broker is unavailable to this replica; retry shortly', 503),
  BadMessage: createError('TRAINING_BAD_MESSAGE', 'unsupported client message: only {"type":"ping"} is accepted', 400)
}
