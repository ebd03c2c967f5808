import type { TestProject } from 'vitest/node';
import { migrateWithLock } from '@spaces/db';
import postgres from 'postgres';
import { startCluster, type Cluster } from './postgres-cluster.ts';

export const TEMPLATE_DB = 'spaces_template';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the test PostgreSQL (the `postgres` database). */
    pgAdminUrl: string;
  }
}

let cluster: Cluster | undefined;

/** One PostgreSQL for the run; a migrated template that each test file clones (fast, isolated). */
export async function setup(project: TestProject) {
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    cluster = await startCluster();
    adminUrl = cluster.url;
  }
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${TEMPLATE_DB} with (force)`);
  await admin.unsafe(`create database ${TEMPLATE_DB}`);
  await admin.end();
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${TEMPLATE_DB}`;
  await migrateWithLock(templateUrl.toString());
  project.provide('pgAdminUrl', adminUrl);
}

export async function teardown() {
  await cluster?.stop();
}
