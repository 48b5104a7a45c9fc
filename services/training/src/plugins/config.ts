import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { TrainingConfig } from '../config.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: TrainingConfig
  }
}

async function config (fastify: FastifyInstance, options: { config: TrainingConfig }) {
  fastify.decorate('config', options.config)
}

export const configPlugin = fp(config, { name: 'config' })
