import type { Build } from '../types';

export function build(over: Partial<Build>): Build {
  return {
    id: 'bld-1', name: 'py', base_template: 'base', recipe: ['apt-get update', 'echo hi'], status: 'running',
    current_step: 1, total_steps: 2, vcpus: 1, memory_mb: 512, disk_size_mb: 20480, step_timeout_sec: 600,
    size_bytes: 0, created_at: '2026-01-02T03:04:05Z', started_at: '2026-01-02T03:04:06Z',
    ...over,
  };
}
