// Shapes of the REST API's resources (see /v1/openapi.json).

export interface List<T> {
  items: T[];
  next_cursor?: string;
}

export interface User {
  id: string;
  email: string;
  is_admin: boolean;
  disabled: boolean;
  created_at: string;
}

export interface Team {
  id: string;
  name: string;
  disabled: boolean;
  role?: string;
  created_at: string;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  admin: boolean;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

export interface Me {
  team: Team;
  admin: boolean;
  user?: User;
  teams?: Team[];
  api_key?: ApiKey;
  csrf_token?: string;
}

export interface LoginResponse {
  user: User;
  csrf_token: string;
  expires_at: string;
}

export interface Healthcheck {
  cmd: string;
  interval_sec?: number;
  timeout_sec?: number;
  retries?: number;
  start_period_sec?: number;
}

export interface Template {
  id: string;
  name: string;
  team_id: string;
  platform: boolean;
  type: 'image' | 'snapshot';
  size_bytes: number;
  vcpus: number;
  memory_mb: number;
  start_cmd?: string;
  healthcheck?: Healthcheck;
  build_id?: string;
  created_at: string;
  team_name?: string;
  replicas?: number | string[];
}

export type SandboxStatus = 'creating' | 'running' | 'paused' | 'killed' | 'expired' | 'failed' | 'lost';
export const sandboxStates: SandboxStatus[] = ['creating', 'running', 'paused', 'killed', 'expired', 'failed', 'lost'];

export interface Sandbox {
  id: string;
  team_id: string;
  template: string;
  template_id: string;
  status: SandboxStatus;
  vcpus: number;
  memory_mb: number;
  disk_size_mb: number;
  timeout_sec: number;
  allow_internet_access: boolean;
  metadata: Record<string, string>;
  node_id: string;
  error?: string;
  created_at: string;
  started_at?: string;
  expires_at?: string;
  ended_at?: string;
  is_build?: boolean;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exit_code: number;
  duration_ms: number;
  timed_out: boolean;
}

export interface FileEntry {
  name: string;
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
  mode: number | string;
  mtime: string;
}

export type BuildStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface BuildLog {
  step: number;
  cmd: string;
  stdout: string;
  stderr: string;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  exit_code: number;
  started_at: string;
  elapsed_ms: number;
}

export interface Build {
  id: string;
  name: string;
  base_template: string;
  recipe: string[];
  status: BuildStatus;
  current_step: number;
  total_steps: number;
  start_cmd?: string;
  healthcheck?: Healthcheck;
  vcpus: number;
  memory_mb: number;
  disk_size_mb: number;
  step_timeout_sec: number;
  error?: string;
  template_id?: string;
  size_bytes: number;
  node_id?: string;
  sandbox_id?: string;
  created_at: string;
  started_at?: string;
  finished_at?: string;
  logs?: BuildLog[];
}

export function buildActive(b: Build): boolean {
  return b.status === 'queued' || b.status === 'running';
}

export interface NodeCapacity {
  vcpus_total: number;
  vcpus_free: number;
  memory_mb_total: number;
  memory_mb_free: number;
  disk_bytes_free: number;
  sandboxes_running: number;
  sandboxes_max: number;
}

export interface ClusterNode {
  id: string;
  name: string;
  role: 'server' | 'client';
  status: 'alive' | 'suspect' | 'dead' | 'left';
  http_addr: string;
  draining: boolean;
  version: string;
  capacity: NodeCapacity;
  sandboxes: number;
}

export interface Nodes {
  leader: string;
  nodes: ClusterNode[];
}

/** MetricSample is one sample of a sandbox (GET /v1/sandboxes/{id}/metrics). */
export interface MetricSample {
  time: string;
  cpu_percent: number; // of its vCPU limit; 100 is all of vcpus
  vcpus: number;
  memory_used_bytes: number;
  memory_limit_bytes: number; // 0: none
  disk_used_bytes: number;
  disk_size_bytes: number;
  net_rx_bytes: number; // since the sandbox started
  net_tx_bytes: number;
}

export interface SandboxMetrics {
  sandbox_id: string;
  node_id: string;
  interval_sec: number;
  current: MetricSample | null; // null until the first sample
  series: MetricSample[]; // oldest first
}

/** NodeMetrics answers GET /v1/admin/nodes/{id}/metrics. */
export interface NodeMetrics {
  node_id: string;
  time: string;
  interval_sec: number;
  capacity: NodeCapacity;
  host: { load1: number; load5: number; load15: number; memory_available_bytes: number };
  sandboxes: {
    sampled: number;
    cpu_cores_used: number;
    vcpus_limit: number;
    memory_used_bytes: number;
    memory_limit_bytes: number;
    disk_used_bytes: number;
    disk_size_bytes: number;
    net_rx_bytes: number;
    net_tx_bytes: number;
  };
}
