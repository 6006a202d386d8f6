# shellcheck shell=bash
# OS-independent part of builders/<flavor>/builder.sh: the app user, the EB and app
# directories, nginx's main configuration and /etc/eb-nodejs/platform.env. A flavor's
# builder.sh sets EB_FLAVOR, sources this file, defines flavor_extras and calls
# builder_main. Honours EB_BUILDER_ROOT exactly like eb_builder.sh.

# shellcheck source-path=SCRIPTDIR
builder_common_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../provisioners/lib/common.sh
. "$builder_common_dir/../../provisioners/lib/common.sh"

APP_USER="${APP_USER:-webapp}"

# Where each flavor's packages put things: nginx's worker user, the includes of nginx's
# dynamic modules, and the directories that may hold node, npm and pm2 (ebnode searches
# them in this order).
case "${EB_FLAVOR:-}" in
  amazon | rhel)
    NGINX_USER=nginx
    NGINX_MODULES='/usr/share/nginx/modules/*.conf'
    # Node.js from dnf in /usr/bin (AL2023: alternatives; RHEL: AppStream module), pm2 from npm.
    NODE_BIN_DIRS=/usr/local/bin:/usr/bin
    ;;
  ubuntu)
    NGINX_USER=www-data
    NGINX_MODULES='/etc/nginx/modules-enabled/*.conf'
    # Node.js is the distribution's (/usr/bin) or the official tarball (/opt/nodejs/current).
    NODE_BIN_DIRS=/usr/local/bin:/opt/nodejs/current/bin:/usr/bin
    ;;
  *) die "EB_FLAVOR must be set to amazon, ubuntu or rhel by builders/<flavor>/builder.sh, got '${EB_FLAVOR:-}'" ;;
esac

create_app_user() {
  if ! on_real_root; then
    log "scratch root: not creating user $APP_USER (directories stay owned by the caller)"
    return 0
  fi
  if id "$APP_USER" >/dev/null 2>&1; then
    return 0
  fi
  useradd --system --user-group --create-home --home-dir "/home/$APP_USER" \
    --shell /sbin/nologin --comment "Elastic Beanstalk application" "$APP_USER" ||
    die "could not create user $APP_USER"
}

make_dirs() {
  local app="$APP_USER:$APP_USER"
  ensure_dir /opt/elasticbeanstalk 755 root:root
  ensure_dir /opt/elasticbeanstalk/deploy/appsource 755 root:root
  ensure_dir /opt/eb-nodejs 755 root:root
  ensure_dir /etc/eb-nodejs 755 root:root
  ensure_dir /var/app 755 root:root
  ensure_dir /var/app/staging 755 "$app"
  ensure_dir /var/app/current 755 "$app"
  ensure_dir /var/lib/eb-nodejs 755 root:root
  ensure_dir /var/lib/eb-nodejs/pm2 750 "$app"
  ensure_dir /var/lib/eb-nodejs/npm-cache 750 "$app"
  ensure_dir /var/log/nodejs 755 "$app"
  ensure_dir /var/log/nginx 755
  # nginx opens the hourly healthd log itself (a variable log path), so its worker user
  # must own the directory.
  ensure_dir /var/log/nginx/healthd 755 "$NGINX_USER:$NGINX_USER"
  ensure_dir /etc/nginx/conf.d 755 root:root
  ensure_dir /etc/systemd/system 755 root:root
}

write_nginx_conf() {
  render "$builder_common_dir/nginx/nginx.conf.in" \
    "NGINX_USER=$NGINX_USER" "NGINX_MODULES=$NGINX_MODULES" |
    put_content /etc/nginx/nginx.conf 644
}

write_platform_env() {
  {
    echo "# Written by builders/$EB_FLAVOR/builder.sh; read by /opt/eb-nodejs/bin/ebnode."
    echo "EB_FLAVOR=$EB_FLAVOR"
    echo "APP_USER=$APP_USER"
    echo "NGINX_USER=$NGINX_USER"
    echo "NODE_BIN_DIRS=$NODE_BIN_DIRS"
    echo "NODE_VERSION_BUILT=$(node_major "${NODE_VERSION:-22}")"
    echo "# Defaults of the aws:elasticbeanstalk:container:custom:nodejs options (platform.yaml)."
    echo "DEFAULT_NODE_COMMAND="
    echo "DEFAULT_PROXY_SERVER=nginx"
    echo "DEFAULT_APP_PORT=8080"
    echo "DEFAULT_GZIP_COMPRESSION=true"
    echo "DEFAULT_PROCESS_MANAGER=pm2"
  } | put_content /etc/eb-nodejs/platform.env 644
}

builder_main() {
  eb_strict
  eb_root_init
  step "app user" create_app_user
  step directories make_dirs
  step "nginx.conf" write_nginx_conf
  step "platform.env" write_platform_env
  step "$EB_FLAVOR specifics" flavor_extras
}
