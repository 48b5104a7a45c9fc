import createError from '@fastify/error'
import { createAuthErrors } from '@training-live/service-kit'

/** Every error the training service answers with; docs/protocol.md lists each code. */
export const TrainingErrors = {
  ...createAuthErrors('TRAINING'),
  BadMessage: createError('TRAINING_BAD_MESSAGE', 'unsupported client message: only {"type":"ping"} is accepted', 400)
}
